# The edge node as a serverless function: AWS Lambda behind a function URL, scaling to zero by
# nature. The package is `sirocco edge-node --lambda-package` (the WASM engine and the internal
# node API); the model comes from S3 at the function's init, verified chunk by chunk against its
# manifest, with this role's credentials, and the node secret from its SSM parameter. Gateways
# reach it at function_url with the node secret (the URL itself is public: the secret is the
# lock, as on any node).

data "aws_partition" "current" {}

locals {
  model_path   = split("/", trimprefix(var.model_uri, "s3://")) # bucket, then the prefix's parts
  model_bucket = local.model_path[0]
  model_prefix = join("/", slice(local.model_path, 1, length(local.model_path)))
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "this" {
  function_name    = var.name
  role             = aws_iam_role.this.arn
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  runtime          = "nodejs22.x"
  handler          = "index.handler"
  architectures    = ["x86_64"]
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds

  environment {
    variables = {
      MODEL_URI                     = var.model_uri
      MODEL_ID                      = var.model_id
      KV_CACHE_MB                   = tostring(var.kv_cache_mb)
      KV_DTYPE                      = var.kv_dtype
      SIROCCO_NODE_SECRET_PARAMETER = var.node_secret_parameter.name
    }
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

# Streams responses (the internal API's server-sent events); authorization is the node secret.
resource "aws_lambda_function_url" "this" {
  function_name      = aws_lambda_function.this.function_name
  authorization_type = "NONE"
  invoke_mode        = "RESPONSE_STREAM"
}
