# The secrets module: three SecureString parameters, written once per secret_version.

mock_provider "aws" {
  source = "./tests/mocks"
  # Mocked values already at plan time, so every run can be a (cheap) plan.
  override_during = plan
}

variables {
  parameter_path = "/sirocco"
}

run "three_secure_string_parameters" {
  command = plan

  module {
    source = "./modules/secrets"
  }

  assert {
    condition     = alltrue([for p in aws_ssm_parameter.this : p.type == "SecureString"])
    error_message = "Every secret must be a SecureString."
  }
  assert {
    condition     = toset([for p in aws_ssm_parameter.this : p.name]) == toset(["/sirocco/node-secret", "/sirocco/key-secret", "/sirocco/api-key"])
    error_message = "The secrets must live under parameter_path."
  }
  assert {
    condition     = alltrue([for p in aws_ssm_parameter.this : p.value_wo_version == 1 && p.value_wo == null])
    error_message = "Values must be write-only (absent from state), versioned by secret_version."
  }
  assert {
    condition     = output.api_key_parameter.name == "/sirocco/api-key"
    error_message = "Outputs carry parameter names, not values."
  }
}
