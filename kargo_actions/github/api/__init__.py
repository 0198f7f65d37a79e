"""The GitHub REST API by resource: each module a part of GitHubClient (github/client.py) over one transport."""
