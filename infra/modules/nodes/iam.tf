# The nodes' role: read the node secret, mark their own instance unhealthy (watchdog), and —
# granted by the weights_bucket module — read the model prefix. Nothing else.

resource "aws_iam_role" "nodes" {
  name_prefix = "${var.name}-"
  description = "Sirocco nodes ${var.name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_instance_profile" "nodes" {
  name_prefix = "${var.name}-"
  role        = aws_iam_role.nodes.name
}

resource "aws_iam_role_policy" "node_runtime" {
  name = "sirocco-node-runtime"
  role = aws_iam_role.nodes.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadNodeSecret"
        Effect   = "Allow"
        Action   = ["ssm:GetParameter"]
        Resource = [var.node_secret_parameter.arn]
      },
      {
        Sid      = "ReportOwnHealth"
        Effect   = "Allow"
        Action   = ["autoscaling:SetInstanceHealth"]
        Resource = [aws_autoscaling_group.nodes.arn]
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "ssm_session" {
  count      = var.enable_ssm_session ? 1 : 0
  role       = aws_iam_role.nodes.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_partition" "current" {}
