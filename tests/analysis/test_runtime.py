from threadpoolctl import threadpool_info

from analysis.runtime import tune_for_analysis


def test_numpy_multiplies_its_matrices_on_one_thread():
    tune_for_analysis()
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "numpy reports no BLAS library"
    assert [pool["num_threads"] for pool in blas] == [1] * len(blas)
