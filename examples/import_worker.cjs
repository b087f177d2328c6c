// PyMOTW multiprocessing_import_worker.py: the target lives in its own module.
function worker() {
  console.log('Worker');
}

module.exports = { worker };
