# Renders text only: no resources, so no provider.
terraform {
  required_version = ">= 1.11"
}
