-- Printed by wrk at the end of a run: bench_accounts_api.py parses this line.
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.2f p50=%.2f p95=%.2f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(95) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout + summary.errors.status))
end
