"""The main window, its delegates, banner, colours and theme."""
