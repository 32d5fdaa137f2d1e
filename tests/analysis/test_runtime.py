from threadpoolctl import threadpool_info, threadpool_limits

from analysis.runtime import tune_for_analysis


def test_numpy_multiplies_its_matrices_on_one_thread():
    # From two BLAS threads, as numpy starts on any machine with two cores or more (the
    # settings are applied once per process, so they are applied here afresh).
    with threadpool_limits(2, user_api="blas"):
        tune_for_analysis.__wrapped__()
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas, "numpy reports no BLAS library"
        assert [pool["num_threads"] for pool in blas] == [1] * len(blas)
