"""`make bench`: the service measured against direct boto3 reads from the same SeaweedFS, in the same run."""
