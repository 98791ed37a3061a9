import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { HashRouter } from "react-router";
import { App } from "./App";
import { ApiError } from "./api/errors";
import "uplot/dist/uPlot.min.css";
import "./styles.css";

const queries = new QueryClient({
  defaultOptions: {
    queries: {
      // A refused key or a bad filter will not fix itself: retry only outages.
      retry: (count, error) => error instanceof ApiError && error.unavailable && count < 2,
      refetchOnWindowFocus: false,
    },
  },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queries}>
      <HashRouter>
        <App />
      </HashRouter>
    </QueryClientProvider>
  </StrictMode>,
);
