output "bucket_name" {
  description = "Name of the weights bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the weights bucket."
  value       = aws_s3_bucket.this.arn
}

output "model_uri" {
  description = "s3:// URI of the model prefix, as `sirocco node --model` and `sirocco weights push` take it."
  value       = "s3://${aws_s3_bucket.this.id}/${var.model_prefix}"
}
