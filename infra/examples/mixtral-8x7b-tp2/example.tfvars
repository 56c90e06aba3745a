# Mixtral 8x7B Instruct on one 2-GPU VM, tensor parallel 2.
#
# g7e.12xlarge: 2 × NVIDIA RTX PRO 6000 Blackwell (96 GB each), 48 vCPUs, 512 GiB of memory.
# Mixtral's 46.7 B weights take ~94 GB in bf16: split over the two GPUs (~47 GB each) they
# leave about half of each GPU for the KV cache. Check that the type is offered in your region.
#
#   terraform -chdir=infra apply -var-file=examples/mixtral-8x7b-tp2/example.tfvars \
#     -var certificate_arn=arn:aws:acm:… -var sirocco_release_url=https://…/sirocco.tgz

name         = "mixtral"
model_prefix = "mixtral-8x7b-instruct-v0.1"
model_id     = "mixtral-8x7b-instruct"

node_instance_type     = "g7e.12xlarge"
node_gpus_per_instance = 2
tensor_parallel        = 2
node_count             = 1
node_min_count         = 0
node_max_count         = 2

# Room for the OS, the release and the ~94 GB local copy of the weights.
node_root_volume_gb = 300
# Downloading and loading ~94 GB takes a while on first boot.
node_ready_grace_seconds = 3600
node_extra_args          = ["--kv-cache-mb", "65536"]
