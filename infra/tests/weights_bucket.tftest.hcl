# The weights bucket on its own: never public, versioned, encrypted, and readable by the nodes'
# role below the model prefix only.

mock_provider "aws" {
  source = "./tests/mocks"
  # Mocked values already at plan time, so every run can be a (cheap) plan.
  override_during = plan
}

variables {
  name             = "sirocco"
  model_prefix     = "mistral-7b-instruct-v0.3"
  reader_role_name = "sirocco-nodes"
}

run "bucket_is_private_versioned_encrypted_and_nodes_read_the_prefix_only" {
  command = plan

  module {
    source = "./modules/weights_bucket"
  }

  assert {
    condition = (
      aws_s3_bucket_public_access_block.this.block_public_acls &&
      aws_s3_bucket_public_access_block.this.block_public_policy &&
      aws_s3_bucket_public_access_block.this.ignore_public_acls &&
      aws_s3_bucket_public_access_block.this.restrict_public_buckets
    )
    error_message = "All four public access blocks must be on."
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.this.bucket == aws_s3_bucket.this.id
    error_message = "The public access block must apply to the weights bucket."
  }
  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled, so no object can be made public by an ACL."
  }
  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be enabled."
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "Objects must be encrypted at rest (SSE-S3 by default)."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.tls_only.policy).Statement[0].Effect == "Deny" && jsondecode(aws_s3_bucket_policy.tls_only.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false"
    error_message = "The bucket policy must deny requests without TLS."
  }
  assert {
    condition     = !strcontains(aws_s3_bucket_policy.tls_only.policy, "\"Allow\"")
    error_message = "The bucket policy must grant nothing to anyone."
  }
  assert {
    condition     = output.model_uri == "s3://sirocco-weights-test/mistral-7b-instruct-v0.3"
    error_message = "model_uri must be s3://<bucket>/<model_prefix>."
  }
  assert {
    condition     = aws_iam_role_policy.read_model.role == "sirocco-nodes"
    error_message = "The read policy must be attached to the nodes' role."
  }
  assert {
    condition     = toset(flatten([for s in jsondecode(aws_iam_role_policy.read_model.policy).Statement : s.Action])) == toset(["s3:GetObject", "s3:ListBucket"])
    error_message = "The nodes may only get objects and list keys."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.read_model.policy).Statement : s.Resource if s.Sid == "ReadModelObjects"][0] == ["arn:aws:s3:::sirocco-weights-test/mistral-7b-instruct-v0.3/*"]
    error_message = "GetObject must be limited to the model prefix."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.read_model.policy).Statement : s.Condition.StringLike["s3:prefix"] if s.Sid == "ListModelPrefix"][0] == ["mistral-7b-instruct-v0.3", "mistral-7b-instruct-v0.3/*"]
    error_message = "ListBucket must be limited to keys under the model prefix."
  }
}

run "kms_key_adds_decrypt_for_that_key" {
  command = plan

  module {
    source = "./modules/weights_bucket"
  }
  variables {
    kms_key_arn = "arn:aws:kms:xx-test-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "A KMS key switches encryption to aws:kms."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.read_model.policy).Statement : s.Resource if s.Sid == "DecryptModelObjects"][0] == [var.kms_key_arn]
    error_message = "With a KMS key the nodes may decrypt with that key."
  }
}

run "rejects_an_empty_model_prefix_a_bad_bucket_name_and_a_bad_key" {
  command = plan
  module {
    source = "./modules/weights_bucket"
  }
  variables {
    model_prefix = ""
    bucket_name  = "Sirocco_Weights"
    kms_key_arn  = "alias/my-key"
  }
  expect_failures = [var.model_prefix, var.bucket_name, var.kms_key_arn]
}
