variable "project_id" {
  description = "The Google Cloud project this environment lives in (one project per environment)."
  type        = string
}

variable "environment" {
  description = "staging or production: names resources and picks the chart profile."
  type        = string
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "region" {
  description = "Region of the cluster, the database, Memorystore and the registry."
  type        = string
  default     = "europe-west1"
}

variable "github_repository" {
  description = "owner/name of the repository whose workflows may publish and deploy."
  type        = string
}

variable "high_availability" {
  description = "Regional Cloud SQL and a STANDARD_HA Memorystore (production)."
  type        = bool
  default     = false
}

variable "database_tier" {
  description = "Cloud SQL machine tier."
  type        = string
  default     = "db-custom-2-7680"
}

variable "redis_memory_gb" {
  description = "Memorystore size; the limits store holds small counters only."
  type        = number
  default     = 1
}

variable "namespace" {
  description = "Kubernetes namespace of the release (Workload Identity bindings)."
  type        = string
  default     = "agentopia"
}

variable "master_authorized_cidr" {
  description = "The only network that may reach the cluster's control plane."
  type        = string
}

variable "deploy_on" {
  description = "Cloud Build trigger: the branch (staging) or tag pattern (production) that deploys."
  type        = string
}
