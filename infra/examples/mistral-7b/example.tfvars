# Mistral 7B Instruct on one GPU.
#
# g6.2xlarge: 1 × NVIDIA L4 (24 GB), 8 vCPUs, 32 GiB of memory. The 7.2 B weights take
# ~14.5 GB in bf16 and fit with room for the KV cache.
#
#   terraform -chdir=infra apply -var-file=examples/mistral-7b/example.tfvars \
#     -var certificate_arn=arn:aws:acm:… -var sirocco_release_url=https://…/sirocco.tgz

name         = "mistral"
model_prefix = "mistral-7b-instruct-v0.3"
model_id     = "mistral-7b-instruct"

node_instance_type     = "g6.2xlarge"
node_gpus_per_instance = 1
tensor_parallel        = 1
node_count             = 1
node_min_count         = 0
node_max_count         = 4

node_root_volume_gb      = 100
node_ready_grace_seconds = 1800
node_extra_args          = ["--kv-cache-mb", "6144"]
