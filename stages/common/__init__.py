"""CDK helpers the stages and the pipeline both build with: cdk-nag wiring, the private-bucket baseline, retention."""
