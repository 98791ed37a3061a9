# Cloud Build runs cloudbuild.yaml: on every push (checks only), and on var.deploy_on
# (main for staging, release tags for production) with publishing and the deploy; the
# production trigger waits for an approval in the console before it runs.
resource "google_service_account" "cloudbuild" {
  project      = var.project_id
  account_id   = "agentopia-cloudbuild"
  display_name = "Agentopia Cloud Build (${var.environment})"
}

resource "google_project_iam_member" "cloudbuild" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/ondemandscanning.admin",
    "roles/container.developer",
  ])
  project = var.project_id
  role    = each.value
  member  = google_service_account.cloudbuild.member
}

resource "google_artifact_registry_repository_iam_member" "cloudbuild_push" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.cloudbuild.member
}

resource "google_secret_manager_secret_iam_member" "cloudbuild_smoke_key" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.secret["agentopia-smoke-api-key"].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.cloudbuild.member
}

locals {
  github_owner = split("/", var.github_repository)[0]
  github_name  = split("/", var.github_repository)[1]
}

resource "google_cloudbuild_trigger" "checks" {
  project         = var.project_id
  location        = var.region
  name            = "agentopia-checks"
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.cloudbuild.id
  github {
    owner = local.github_owner
    name  = local.github_name
    pull_request {
      branch = ".*"
    }
  }
  substitutions = { _REGION = var.region, _PUBLISH = "false", _DEPLOY = "" }
  depends_on    = [google_project_service.enabled]
}

resource "google_cloudbuild_trigger" "deploy" {
  project         = var.project_id
  location        = var.region
  name            = "agentopia-deploy-${var.environment}"
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.cloudbuild.id
  github {
    owner = local.github_owner
    name  = local.github_name
    push {
      branch = var.environment == "staging" ? var.deploy_on : null
      tag    = var.environment == "production" ? var.deploy_on : null
    }
  }
  approval_config {
    approval_required = var.environment == "production"
  }
  substitutions = {
    _REGION      = var.region
    _PUBLISH     = "true"
    _DEPLOY      = var.environment
    _GKE_CLUSTER = google_container_cluster.gke.name
  }
  depends_on = [google_project_service.enabled]
}
