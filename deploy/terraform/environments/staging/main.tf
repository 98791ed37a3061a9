# The staging environment: one instantiation of the module, in a project of its own.
#   terraform -chdir=deploy/terraform/environments/staging init
#   terraform -chdir=deploy/terraform/environments/staging apply -var project_id=... \
#     -var github_repository=owner/name -var master_authorized_cidr=203.0.113.0/24
terraform {
  required_version = ">= 1.6"
  backend "gcs" {
    prefix = "agentopia/staging" # bucket given at init: -backend-config=bucket=...
  }
}

variable "project_id" {
  type = string
}

variable "github_repository" {
  type = string
}

variable "master_authorized_cidr" {
  type = string
}

variable "region" {
  type    = string
  default = "europe-west1"
}

provider "google" {
  project = var.project_id
  region  = var.region
}

module "agentopia" {
  source                 = "../../modules/agentopia"
  project_id             = var.project_id
  environment            = "staging"
  region                 = var.region
  github_repository      = var.github_repository
  master_authorized_cidr = var.master_authorized_cidr
  high_availability      = false
  deploy_on              = "^main$"
}

output "agentopia" {
  value = module.agentopia
}
