"""S3 file-download service.

Kept import-light on purpose: `contract` is read by the CDK stages at synth time, where Flask is not needed.
The WSGI app lives in `download_service.app`.
"""
