"""DynamoDB access: PynamoDB models of the main table and their binding to the deployed table names."""
