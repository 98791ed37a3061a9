# Cloud SQL for PostgreSQL: private IP only, TLS only, IAM database authentication (the
# key vault and metrics service accounts log in as themselves through the Cloud SQL Auth
# Proxy; no password exists), daily backups with point-in-time recovery, regional (HA)
# when var.high_availability.
resource "google_sql_database_instance" "postgres" {
  project             = var.project_id
  name                = "agentopia-${var.environment}"
  region              = var.region
  database_version    = "POSTGRES_18"
  deletion_protection = true
  depends_on          = [google_service_networking_connection.private_services]

  settings {
    tier              = var.database_tier
    edition           = "ENTERPRISE"
    availability_type = var.high_availability ? "REGIONAL" : "ZONAL"
    disk_autoresize   = true
    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.vpc.id
      ssl_mode        = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED" # the Auth Proxy presents one
    }
    backup_configuration {
      enabled                        = true
      start_time                     = "02:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = 7
      backup_retention_settings {
        retained_backups = var.high_availability ? 30 : 7
      }
    }
    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    insights_config {
      query_insights_enabled = true
    }
  }
}

resource "google_sql_database" "service" {
  for_each = toset(["keyvault", "metrics"])
  project  = var.project_id
  instance = google_sql_database_instance.postgres.name
  name     = each.key
}

# IAM users: the service account's e-mail without ".gserviceaccount.com".
resource "google_sql_user" "service" {
  for_each = toset(["keyvault", "metrics"])
  project  = var.project_id
  instance = google_sql_database_instance.postgres.name
  name     = trimsuffix(google_service_account.workload[each.key].email, ".gserviceaccount.com")
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}
