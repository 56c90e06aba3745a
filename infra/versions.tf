terraform {
  # 1.11: write-only attributes keep the generated secrets out of the state; 1.9+: validations
  # that compare variables (tensor_parallel against gpus_per_instance).
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 6.0"
    }
  }
}
