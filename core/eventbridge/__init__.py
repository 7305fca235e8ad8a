"""The durable second source: Genesys Cloud events through Amazon EventBridge and an SQS queue."""
