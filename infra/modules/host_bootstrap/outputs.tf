output "user_data" {
  description = "The first-boot shell script, as plain text."
  value       = local.user_data
}

output "user_data_base64" {
  description = "The first-boot script base64-encoded, as launch templates take it."
  value       = base64encode(local.user_data)
}
