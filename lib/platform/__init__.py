"""What everything stands on: configuration (every variable read and validated once, and the routes
file), the one DynamoDB table, the error family, deadlines, and small shared structures.

May import no other layer of lib/ (it is the bottom one).
"""
