output "function_url" {
  description = "The edge node's URL: give it to gateways (--nodes) like any node's."
  value       = aws_lambda_function_url.this.function_url
}

output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "role_name" {
  description = "Name of the function's IAM role (it may read the model prefix only)."
  value       = aws_iam_role.this.name
}
