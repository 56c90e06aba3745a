resource "aws_iam_role" "this" {
  name = "${var.name}-edge-node"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}

# Reads the model below its prefix (nothing else), and writes its own logs.
resource "aws_iam_role_policy" "this" {
  name = "${var.name}-edge-node"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadModel"
        Effect   = "Allow"
        Action   = "s3:GetObject"
        Resource = "arn:${data.aws_partition.current.partition}:s3:::${local.model_bucket}/${local.model_prefix}/*"
      },
      {
        Sid      = "ReadNodeSecret"
        Effect   = "Allow"
        Action   = "ssm:GetParameter"
        Resource = var.node_secret_parameter.arn
      },
      {
        Sid      = "WriteLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.this.arn}:*"
      },
    ]
  })
}
