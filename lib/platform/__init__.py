"""What everything stands on: configuration (every variable read and validated once, and the routes
file), the one DynamoDB table, the error family, deadlines, and small shared structures.

Imports no other layer of lib/.
"""
