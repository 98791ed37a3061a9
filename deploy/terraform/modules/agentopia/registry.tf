# One Docker repository; each service is an image in it (router, provider, ...).
resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84: images hold no secret; Google-managed encryption at rest (add kms_key_name for CMEK)
  project       = var.project_id
  location      = var.region
  repository_id = "agentopia"
  format        = "DOCKER"
  description   = "Agentopia service images, one per service, tagged by commit"
  docker_config {
    immutable_tags = true # a commit's tag always names the image that was tested
  }
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 50
    }
  }
  depends_on = [google_project_service.enabled]
}
