"""The self-mutating delivery pipeline (design §5). `pipeline.buildspec` has no CDK imports (make ci uses it)."""
