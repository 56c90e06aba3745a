# Names and ARNs only: the values stay in Parameter Store (read them with
# `aws ssm get-parameter --with-decryption --name NAME`).

output "node_secret_parameter" {
  description = "Name and ARN of the SIROCCO_NODE_SECRET parameter."
  value       = { name = aws_ssm_parameter.this["node-secret"].name, arn = aws_ssm_parameter.this["node-secret"].arn }
}

output "key_secret_parameter" {
  description = "Name and ARN of the SIROCCO_KEY_SECRET parameter."
  value       = { name = aws_ssm_parameter.this["key-secret"].name, arn = aws_ssm_parameter.this["key-secret"].arn }
}

output "api_key_parameter" {
  description = "Name and ARN of the SIROCCO_API_KEY parameter."
  value       = { name = aws_ssm_parameter.this["api-key"].name, arn = aws_ssm_parameter.this["api-key"].arn }
}
