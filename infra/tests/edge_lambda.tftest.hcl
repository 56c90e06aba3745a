# The edge node as a Lambda function on its own: a streaming function URL, the Node runtime the
# package is built for, the model read from its prefix only, and variables that refuse
# configurations that cannot work.

mock_provider "aws" {
  source = "./tests/mocks"
  # Mocked values already at plan time, so every run can be a (cheap) plan.
  override_during = plan
}

variables {
  name = "sirocco-edge"
  # Any file stands in for the package at plan time (its hash is all Terraform reads).
  package_path = "tests/mocks/aws.tfmock.hcl"
  model_uri    = "s3://sirocco-weights-test/models/default-q4_0"
  model_id     = "sirocco-default"
  node_secret_parameter = {
    name = "/sirocco-edge/node-secret"
    arn  = "arn:aws:ssm:us-east-1:123456789012:parameter/sirocco-edge/node-secret"
  }
}

run "a_streaming_function_url_over_the_package_reading_only_the_model_prefix" {
  command = plan

  module {
    source = "./modules/edge_lambda"
  }

  assert {
    condition     = aws_lambda_function_url.this.invoke_mode == "RESPONSE_STREAM"
    error_message = "The function URL must stream responses: the internal API answers generate with server-sent events."
  }
  assert {
    condition     = aws_lambda_function.this.runtime == "nodejs22.x" && aws_lambda_function.this.handler == "index.handler"
    error_message = "The function must run the package's index.handler on Node 22 (whose V8 runs the relaxed-SIMD engine), what `sirocco edge-node --lambda-package` builds for."
  }
  assert {
    condition     = aws_lambda_function.this.source_code_hash == filebase64sha256("tests/mocks/aws.tfmock.hcl")
    error_message = "A new package must deploy: the function tracks the package's hash."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.MODEL_URI == "s3://sirocco-weights-test/models/default-q4_0" && aws_lambda_function.this.environment[0].variables.MODEL_ID == "sirocco-default"
    error_message = "The function must be told its model and the id it serves it as."
  }
  assert {
    condition     = aws_lambda_function.this.memory_size == 1024 && aws_lambda_function.this.timeout == 300
    error_message = "Defaults: 1 GB (the engine's budget) and 5 minutes a request."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.KV_DTYPE == "f16"
    error_message = "The function's K/V cache defaults to f16, as the node's does."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.this.policy).Statement[0].Resource == "arn:aws:s3:::sirocco-weights-test/models/default-q4_0/*"
    error_message = "The function may read the model's prefix only."
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables.SIROCCO_NODE_SECRET_PARAMETER == "/sirocco-edge/node-secret" && !contains(keys(aws_lambda_function.this.environment[0].variables), "SIROCCO_NODE_SECRET")
    error_message = "The function must be told where the node secret is, never the secret itself (the configuration is readable by anyone who may read the function)."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if s.Sid == "ReadNodeSecret"]).Resource == "arn:aws:ssm:us-east-1:123456789012:parameter/sirocco-edge/node-secret" && one([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if s.Sid == "ReadNodeSecret"]).Action == "ssm:GetParameter"
    error_message = "The function may read its node secret's parameter, and no other."
  }
  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if s.Action == "*" || s.Resource == "*"]) == 0
    error_message = "No statement may grant every action or every resource."
  }
  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com"
    error_message = "Only Lambda may assume the function's role."
  }
}

run "refuses_a_model_that_is_not_an_s3_prefix_and_a_parameter_arn_of_another_name" {
  command = plan

  module {
    source = "./modules/edge_lambda"
  }

  variables {
    model_uri             = "https://example.com/model"
    node_secret_parameter = { name = "/sirocco-edge/node-secret", arn = "arn:aws:ssm:us-east-1:123456789012:parameter/other" }
    memory_mb             = 128
    kv_dtype              = "q4_0"
  }

  expect_failures = [var.model_uri, var.node_secret_parameter, var.memory_mb, var.kv_dtype]
}
