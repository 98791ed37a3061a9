output "registry" {
  description = "image.registry for the chart, and REGISTRY for tools/ci/image.sh."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "cluster" {
  description = "GKE_CLUSTER for the workflows."
  value       = google_container_cluster.gke.name
}

output "database_connection_name" {
  description = "The Cloud SQL instance for the Auth Proxy (PROJECT:REGION:INSTANCE)."
  value       = google_sql_database_instance.postgres.connection_name
}

output "database_users" {
  description = "The IAM database users of the key vault and the metrics service."
  value       = { for name, user in google_sql_user.service : name => user.name }
}

output "redis_host" {
  description = "Memorystore's address; the limits URL (with AUTH) goes into the agentopia-limits-redis secret."
  value       = "${google_redis_instance.limits.host}:${google_redis_instance.limits.port}"
}

output "workload_service_accounts" {
  description = "<component>.serviceAccount.gcpServiceAccount for the chart."
  value       = { for name, account in google_service_account.workload : name => account.email }
}

output "workload_identity_provider" {
  description = "GCP_WORKLOAD_IDENTITY_PROVIDER for the workflows."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "ci_service_account" {
  description = "GCP_CI_SERVICE_ACCOUNT for the workflows."
  value       = google_service_account.ci.email
}

output "deployer_service_account" {
  description = "GCP_DEPLOY_SERVICE_ACCOUNT for the workflows."
  value       = google_service_account.deployer.email
}
