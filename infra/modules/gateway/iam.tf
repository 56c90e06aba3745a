# The gateways' role: list instances (node discovery), read the three secrets and, with a
# database, its credentials secret (that one secret; it is encrypted with the AWS managed key
# aws/secretsmanager, whose key policy lets Secrets Manager decrypt for the caller).

resource "aws_iam_role" "gateway" {
  name_prefix = "${var.name}-gw-"
  description = "Sirocco gateways ${var.name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_instance_profile" "gateway" {
  name_prefix = "${var.name}-gw-"
  role        = aws_iam_role.gateway.name
}

resource "aws_iam_role_policy" "gateway_runtime" {
  name = "sirocco-gateway-runtime"
  role = aws_iam_role.gateway.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        # DescribeInstances cannot be limited to resources; it only reads metadata.
        Sid      = "DiscoverNodes"
        Effect   = "Allow"
        Action   = ["ec2:DescribeInstances"]
        Resource = "*"
      },
      {
        Sid    = "ReadSecrets"
        Effect = "Allow"
        Action = ["ssm:GetParameter"]
        Resource = [
          var.secret_parameters.node_secret.arn,
          var.secret_parameters.key_secret.arn,
          var.secret_parameters.api_key.arn,
        ]
      },
    ], local.database_statements)
  })
}

locals {
  # The database credentials: that one secret, read (GetSecretValue) and nothing else.
  database_statements = var.database == null ? [] : [{
    Sid      = "ReadDatabaseCredentials"
    Effect   = "Allow"
    Action   = ["secretsmanager:GetSecretValue"]
    Resource = [var.database.secret_arn]
  }]
}

resource "aws_iam_role_policy_attachment" "ssm_session" {
  count      = var.enable_ssm_session ? 1 : 0
  role       = aws_iam_role.gateway.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_partition" "current" {}
