"""The routers' model-routing configuration, stored for every router replica as
versioned text with compare-and-set (`store`), pushed to watchers (`convert`) and served
by RoutingConfigService (`servicer`). The key vault never parses the document."""
