# Secret Manager holds the secrets; Terraform creates the containers, never the values
# (they would land in the state): the runbook adds each first version by hand.
locals {
  secrets = {
    "agentopia-kek"            = "the key vault's key-encryption key (keyvault only)"
    "agentopia-admin-key"      = "the bootstrap admin key (keyvault only)"
    "agentopia-limits-redis"   = "the Memorystore URL with its AUTH string (router, keyvault)"
    "agentopia-smoke-api-key"  = "a client key for the post-deploy smoke test (CI only)"
  }
  secret_readers = {
    "agentopia-kek"           = [google_service_account.workload["keyvault"].member]
    "agentopia-admin-key"     = [google_service_account.workload["keyvault"].member]
    "agentopia-limits-redis"  = [google_service_account.workload["router"].member, google_service_account.workload["keyvault"].member]
    "agentopia-smoke-api-key" = [google_service_account.deployer.member]
  }
  secret_reader_pairs = merge([
    for secret, members in local.secret_readers : {
      for member in members : "${secret}/${member}" => { secret = secret, member = member }
    }
  ]...)
}

resource "google_secret_manager_secret" "secret" {
  for_each  = local.secrets
  project   = var.project_id
  secret_id = each.key
  labels    = { app = "agentopia", environment = var.environment }
  annotations = {
    purpose = each.value
  }
  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
  depends_on = [google_project_service.enabled]
}

# Each secret readable by the workloads that need it, and nobody else.
resource "google_secret_manager_secret_iam_member" "reader" {
  for_each  = local.secret_reader_pairs
  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}
