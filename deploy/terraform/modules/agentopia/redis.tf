# Memorystore for Redis: the limits store every router replica shares. Private
# services access, AUTH and in-transit encryption; STANDARD_HA in production.
resource "google_redis_instance" "limits" {
  project                 = var.project_id
  name                    = "agentopia-${var.environment}-limits"
  region                  = var.region
  tier                    = var.high_availability ? "STANDARD_HA" : "BASIC"
  memory_size_gb          = var.redis_memory_gb
  redis_version           = "REDIS_7_2"
  authorized_network      = google_compute_network.vpc.id
  connect_mode            = "PRIVATE_SERVICE_ACCESS"
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"
  redis_configs = {
    maxmemory-policy = "volatile-ttl" # every limits key carries a TTL
  }
  depends_on = [google_service_networking_connection.private_services]
}
