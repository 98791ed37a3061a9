# One Google service account per workload, each with only what that workload calls.
# Kubernetes ServiceAccounts of the chart (agentopia-NAME in var.namespace) impersonate
# them through Workload Identity; GitHub's workflows reach the CI and deployer accounts
# through Workload Identity Federation (no key exists for any account).
locals {
  workloads = toset(["router", "provider", "keyvault", "metrics", "edge"])
  # Project roles per workload. The router and the edge call no Google API.
  workload_roles = {
    keyvault = ["roles/cloudsql.client", "roles/cloudsql.instanceUser"]
    metrics  = ["roles/cloudsql.client", "roles/cloudsql.instanceUser"]
    provider = ["roles/aiplatform.user"] # Vertex AI deployments
  }
  workload_role_pairs = merge([
    for workload, roles in local.workload_roles : {
      for role in roles : "${workload}/${role}" => { workload = workload, role = role }
    }
  ]...)
}

resource "google_service_account" "workload" {
  for_each     = local.workloads
  project      = var.project_id
  account_id   = "agentopia-${each.key}"
  display_name = "Agentopia ${each.key} (${var.environment})"
  depends_on   = [google_project_service.enabled]
}

resource "google_project_iam_member" "workload" {
  for_each = local.workload_role_pairs
  project  = var.project_id
  role     = each.value.role
  member   = google_service_account.workload[each.value.workload].member
}

resource "google_service_account_iam_member" "workload_identity" {
  for_each           = local.workloads
  service_account_id = google_service_account.workload[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/agentopia-${each.key}]"
}

# CI pushes and scans images; the deployer runs helm against this cluster.
resource "google_service_account" "ci" {
  project      = var.project_id
  account_id   = "agentopia-ci"
  display_name = "Agentopia CI: push and scan images (${var.environment})"
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "agentopia-deployer"
  display_name = "Agentopia deployer: helm upgrade (${var.environment})"
}

resource "google_artifact_registry_repository_iam_member" "ci_push" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.ci.member
}

resource "google_project_iam_member" "ci_scan" {
  project = var.project_id
  role    = "roles/ondemandscanning.admin"
  member  = google_service_account.ci.member
}

resource "google_artifact_registry_repository_iam_member" "deployer_read" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.deployer.member
}

resource "google_project_iam_member" "deployer_gke" {
  project = var.project_id
  role    = "roles/container.developer"
  member  = google_service_account.deployer.member
}

# GitHub Actions OIDC: only workflows of var.github_repository may exchange tokens.
resource "google_iam_workload_identity_pool" "github" {
  project                   = var.project_id
  workload_identity_pool_id = "github"
  display_name              = "GitHub Actions"
  depends_on                = [google_project_service.enabled]
}

resource "google_iam_workload_identity_pool_provider" "github" {
  # The condition names one repository (a variable, which checkov cannot read).
  #checkov:skip=CKV_GCP_125: attribute_condition pins assertion.repository to var.github_repository
  project                            = var.project_id
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  display_name                       = "GitHub Actions OIDC"
  attribute_mapping = {
    "google.subject"        = "assertion.sub"
    "attribute.repository"  = "assertion.repository"
    "attribute.ref"         = "assertion.ref"
    "attribute.environment" = "assertion.environment"
  }
  attribute_condition = "assertion.repository == \"${var.github_repository}\""
  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account_iam_member" "github_ci" {
  service_account_id = google_service_account.ci.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository/${var.github_repository}"
}

# Only a job running in this environment's GitHub environment may deploy to it.
resource "google_service_account_iam_member" "github_deployer" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.environment/${var.environment}"
}
