// The module child_process.fork() runs in the start-latency benchmark: it does
// nothing, like multiproc's no-op target.
