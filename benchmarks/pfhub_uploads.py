"""The PFHub benchmark 1a/1b uploads: code, cores, wall time and F(t) samples.

PFHub benchmark 1 (https://pages.nist.gov/pfhub/benchmarks/benchmark1.ipynb) is
Cahn–Hilliard spinodal decomposition on a 200 × 200 square, periodic (1a) or no-flux
(1b). Each upload on the PFHub site is a ``meta.yaml`` in the ``usnistgov/pfhub``
repository under ``_data/simulations/<name>/``: software, cores, wall time and the
simulated time reached (``run_time``), and a link to its free-energy series. This module
records every 1a and 1b upload found there, read from the snapshot at commit
``2f9c54e`` (2025-03-11).

Provenance of every number:

* ``code``, ``cores``, ``wall_time`` [s], ``sim_time``: the ``meta.yaml`` named by
  ``meta`` (the last ``run_time`` entry). They are the uploaders' figures, on their
  hardware (one node each).
* ``samples``: for each of t = 100, 1000, 10⁴, 10⁶ that the series reaches, the two
  consecutive rows (t₀, F₀), (t₁, F₁) of the free-energy file ``data_source`` (repository
  @ commit : path) with t₀ ≤ t ≤ t₁ (one row twice when a row falls on t). F(t) is their
  linear interpolation (:func:`free_energy`); nothing else is derived.
* ``final_time``: the last time of that series.
* Uploads whose series is only linked externally (GitHub gists, file hosts) have no
  ``data_source`` and no samples; ``note`` says where the series is. Their wall times and
  cores are still listed.

The uploads disagree: at t = 100 the PRISMS-PF uploads give F ≈ 116–117, the others
128–142, so "within the spread" is a loose test; :func:`spread` can leave codes out.
"""

# ruff: noqa: E501  (source URLs and paths are kept whole so they can be followed)

from __future__ import annotations

import math
from typing import Any

#: the PFHub snapshot the meta files were read from
PFHUB_COMMIT = "2f9c54e34e8c91772fcb12a88a6b3edb6172451f"
_PFHUB = f"usnistgov/pfhub@{PFHUB_COMMIT}:_data/simulations/"

#: the times at which F is sampled
TIMES = (100.0, 1000.0, 1.0e4, 1.0e6)

BENCHMARKS = {"1a": "periodic square", "1b": "no-flux square"}


def _upload(benchmark: str, code: str, *, cores: int, wall_time: float, sim_time: float,
            meta: str, data_url: str | None = None, data_source: str | None = None,
            note: str = "", final_time: float | None = None,
            samples: dict[float, tuple[tuple[float, float], tuple[float, float]]] | None = None
            ) -> dict[str, Any]:
    return {"benchmark": benchmark, "code": code, "cores": cores, "wall_time": wall_time,
            "sim_time": sim_time, "meta": meta, "data_url": data_url,
            "data_source": data_source, "note": note, "final_time": final_time,
            "samples": samples or {}}


#: upload name (the PFHub directory) → record; see the module docstring
UPLOADS: dict[str, dict[str, Any]] = {
    "fenics_1a_ivan": _upload(
        "1a", "FEniCS", cores=24, wall_time=388.0, sim_time=1160036.7,
        meta=_PFHUB + "fenics_1a_ivan/meta.yaml",
        data_url="https://gist.githubusercontent.com/IvanYashchuk/1d7e096590a3c23f08b129e5004bcc28/raw/ecb5bdf60c84bf993d2cfa3715ae59d4b744b466/1a_square_periodic_out.csv",
        note="series only in a GitHub gist, not stored here"),
    "fipy_1a_travis": _upload(
        "1a", "FiPy", cores=1, wall_time=1495.47, sim_time=52.746625481564735,
        meta=_PFHUB + "fipy_1a_travis/meta.yaml",
        data_source=_PFHUB + "fipy_1a_travis/meta.yaml (free_energy values inline)",
        final_time=52.746625481564735),
    "itg_moose_1a": _upload(
        "1a", "MOOSE", cores=8, wall_time=1774.0, sim_time=1073370.0,
        meta=_PFHUB + "itg_moose_1a/meta.yaml",
        data_url="https://raw.githubusercontent.com/itgreenquist/moose/benchmark/benchmark_uploads/prob_1/a_energy.csv",
        data_source="itgreenquist/moose@fa4420cebe6b639251a3934ef991e45b5d5b68cd:benchmark_uploads/prob_1/a_energy.csv",
        final_time=1073371.335,
        samples={
            100.0: ((98.96459961, 139.2172963), (113.3808594, 135.2813253)),
            1000.0: ((995.8136349, 79.36948255), (1016.339911, 78.56270418)),
            10000.0: ((9922.729155, 38.38072078), (10030.95491, 38.0893024)),
            1000000.0: ((999190.181, 23.84583833), (1001793.029, 23.84586482)),
        }),
    "memphis_1a": _upload(
        "1a", "MEMPHIS", cores=16, wall_time=13864.0, sim_time=100000.0,
        meta=_PFHUB + "memphis_1a/meta.yaml",
        data_url="https://raw.githubusercontent.com/memphis-snl/memphis/master/benchmark/BM_001/1a_free-energy_explicit-euler.csv",
        data_source="memphis-snl/memphis@e168825d7e01db8a0ff136281911ef1cf0b2612e:benchmark/BM_001/1a_free-energy_explicit-euler.csv",
        final_time=100000.0,
        samples={
            100.0: ((100.0, 135.220691271), (100.0, 135.220691271)),
            1000.0: ((1000.0, 81.9836225671), (1000.0, 81.9836225671)),
            10000.0: ((10000.0, 34.6995488996), (10000.0, 34.6995488996)),
        }),
    "meumapps_bm1a": _upload(
        "1a", "MEUMAPPS", cores=1, wall_time=2100.0, sim_time=100000.0,
        meta=_PFHUB + "meumapps_bm1a/meta.yaml",
        data_url="https://f000.backblazeb2.com/file/pfhub-sjd/bm1a_energy_meumapps.csv",
        note="series on an external file host (f000.backblazeb2.com), not stored here"),
    "mmsp_1a_raspi": _upload(
        "1a", "MMSP", cores=18, wall_time=291820.48, sim_time=4166.67,
        meta=_PFHUB + "mmsp_1a_raspi/meta.yaml",
        data_url="https://gist.githubusercontent.com/tkphd/93af8ee482b5a66b04ff7284e61ef716/raw/c4b4e8c606a8fe209d7a0ea42e4267f3c53056e2/mmsp_1a_raspi_results.csv",
        note="series only in a GitHub gist, not stored here"),
    "mmsp_1a_travis": _upload(
        "1a", "MMSP", cores=2, wall_time=1125.39, sim_time=192.545,
        meta=_PFHUB + "mmsp_1a_travis/meta.yaml",
        data_source=_PFHUB + "mmsp_1a_travis/meta.yaml (free_energy values inline)",
        note="run_time.sim_time (192.545) equals the last inline energy, not a time; the inline series ends at t = 76.17",
        final_time=76.1719),
    "mmsp_1a_wrksttn": _upload(
        "1a", "MMSP", cores=12, wall_time=157186.74, sim_time=53333.3,
        meta=_PFHUB + "mmsp_1a_wrksttn/meta.yaml",
        data_url="https://gist.githubusercontent.com/tkphd/8659310fb61efba6c97df42e12382924/raw/98fcbed6c526092ec561dc11904c3754ccbfd880/mmsp_1a_wrksttn.csv",
        note="series only in a GitHub gist, not stored here"),
    "moose_1a_ia": _upload(
        "1a", "MOOSE", cores=6, wall_time=3720.0, sim_time=935803.78997793,
        meta=_PFHUB + "moose_1a_ia/meta.yaml",
        data_url="https://gist.githubusercontent.com/wd15/41e21ea1090057c42a59380d90367763/raw/6cdc4a241f133355a2f0f0691fc96206ef3fa29a/hackathon_p1_square_NF_IA.csv",
        note="series only in a GitHub gist, not stored here; the linked file is named hackathon_p1_square_NF_IA.csv (NF: no-flux?) although the meta says 1a"),
    "moose_1a_jah": _upload(
        "1a", "MOOSE", cores=8, wall_time=1958.849, sim_time=1000000.0,
        meta=_PFHUB + "moose_1a_jah/meta.yaml",
        data_url="https://raw.githubusercontent.com/jah5759/benchmark_results/benchmark_results/1_spinodal_decomp/1a_square_periodic/1a_square_periodic_out.csv",
        note="series in jah5759/benchmark_results, of which no snapshot is stored here"),
    "moose_1a_mpf": _upload(
        "1a", "MOOSE", cores=8, wall_time=1774.63, sim_time=1000000.0,
        meta=_PFHUB + "moose_1a_mpf/meta.yaml",
        data_url="https://raw.githubusercontent.com/mfrichtl/PFHub_benchmarks/main/problems/pfhub_benchmark_1.a1_csv.csv",
        data_source="mfrichtl/PFHub_benchmarks@e8e96c25e69256ae0b9c7fe9f5fdfd6eb5ab70fc:problems/pfhub_benchmark_1.a1_csv.csv",
        final_time=1000000.0,
        samples={
            100.0: ((95.836322719437, 141.84058180053), (101.62813885541, 140.13301208519)),
            1000.0: ((996.71769416497, 83.19798720435), (1011.4818023092, 82.378093809987)),
            10000.0: ((9998.714025296, 34.13742536521), (10138.168137399, 33.866666973237)),
            1000000.0: ((1000000.0, 19.205466027553), (1000000.0, 19.205466027553)),
        }),
    "moose_fh_1a": _upload(
        "1a", "MOOSE", cores=8, wall_time=1244.0, sim_time=1000000.0,
        meta=_PFHUB + "moose_fh_1a/meta.yaml",
        data_url="https://gist.githubusercontent.com/FHilty/af553a152a933bba5552a4eaa7313069/raw/0dba93516118065419bda950993381f04af1a879/MOOSE_FH_1a.csv",
        note="series only in a GitHub gist, not stored here"),
    "moose_psu_1a_IA": _upload(
        "1a", "MOOSE", cores=40, wall_time=3964.0, sim_time=526338.0,
        meta=_PFHUB + "moose_psu_1a_IA/meta.yaml",
        data_url="https://gist.githubusercontent.com/simopier/739e1e4cb6e3682badee62dbb242fd98/raw/ec506181dfd410da88ca3760fd800fe930e48338/moose_psu_1a_IA.csv",
        note="series only in a GitHub gist, not stored here"),
    "moose_psu_1a_STA": _upload(
        "1a", "MOOSE", cores=40, wall_time=3529.0, sim_time=984.0,
        meta=_PFHUB + "moose_psu_1a_STA/meta.yaml",
        data_url="https://gist.githubusercontent.com/simopier/739e1e4cb6e3682badee62dbb242fd98/raw/ec506181dfd410da88ca3760fd800fe930e48338/moose_psu_1a_STA.csv",
        note="series only in a GitHub gist, not stored here"),
    "prismspf_1a": _upload(
        "1a", "PRISMS-PF", cores=2, wall_time=708.0, sim_time=10000.0,
        meta=_PFHUB + "prismspf_1a/meta.yaml",
        data_source=_PFHUB + "prismspf_1a/meta.yaml (free_energy values inline)",
        note="run_time lists wall time per sim time: 11 s at t=100, 79 s at 1000, 708 s at 1e4",
        final_time=10000.0,
        samples={
            100.0: ((100.0, 115.6166174), (100.0, 115.6166174)),
            1000.0: ((1000.0, 70.35382018), (1000.0, 70.35382018)),
            10000.0: ((10000.0, 40.81065093), (10000.0, 40.81065093)),
        }),
    "fenics_1b_ivan": _upload(
        "1b", "FEniCS", cores=24, wall_time=774.0, sim_time=1038937.5,
        meta=_PFHUB + "fenics_1b_ivan/meta.yaml",
        data_url="https://gist.githubusercontent.com/IvanYashchuk/1d7e096590a3c23f08b129e5004bcc28/raw/ecb5bdf60c84bf993d2cfa3715ae59d4b744b466/1b_square_noflux_out.csv",
        note="series only in a GitHub gist, not stored here"),
    "fipy_1b_travis": _upload(
        "1b", "FiPy", cores=1, wall_time=941.26, sim_time=52.473820077453276,
        meta=_PFHUB + "fipy_1b_travis/meta.yaml",
        data_source=_PFHUB + "fipy_1b_travis/meta.yaml (free_energy values inline)",
        final_time=52.473820077453276),
    "hiperc_1b_cuda": _upload(
        "1b", "HiPerC (CUDA)", cores=1792, wall_time=7464.0, sim_time=200000.0,
        meta=_PFHUB + "hiperc_1b_cuda/meta.yaml",
        data_url="https://f001.backblazeb2.com/file/hiperc-results/gpu-cuda-spinodal/free-energy-9pt.csv",
        note="series on an external file host (f001.backblazeb2.com), not stored here; GPU run: cores = CUDA cores"),
    "hiperc_1b_cuda_9pt": _upload(
        "1b", "HiPerC (CUDA)", cores=1792, wall_time=7388.0, sim_time=200000.0,
        meta=_PFHUB + "hiperc_1b_cuda_9pt/meta.yaml",
        data_url="https://ndownloader.figshare.com/files/10030003",
        note="series on an external file host (ndownloader.figshare.com), not stored here; GPU run: cores = CUDA cores"),
    "inl_moose_1b": _upload(
        "1b", "MOOSE", cores=8, wall_time=1089.121, sim_time=10000.0,
        meta=_PFHUB + "inl_moose_1b/meta.yaml",
        data_url="https://gist.githubusercontent.com/dschwen/75c5f5f47519119fdb6e934056f6fd56/raw/d865f3213e4a695dc031c37e71b280248c4a0eb5/problem_1b_out.csv",
        note="series only in a GitHub gist, not stored here"),
    "inl_moose_1b_raspi": _upload(
        "1b", "MOOSE", cores=4, wall_time=14262.998, sim_time=10000.0,
        meta=_PFHUB + "inl_moose_1b_raspi/meta.yaml",
        data_url="https://gist.githubusercontent.com/dschwen/e98885861ef77c480a74c13d09804f92/raw/a11dfd5d1d3856ec48b14fd321a7ccbfce45bd96/problem_1b_out.csv",
        note="series only in a GitHub gist, not stored here"),
    "itg_moose_1b": _upload(
        "1b", "MOOSE", cores=8, wall_time=2280.0, sim_time=983023.0,
        meta=_PFHUB + "itg_moose_1b/meta.yaml",
        data_url="https://raw.githubusercontent.com/itgreenquist/moose/benchmark/benchmark_uploads/prob_1/b_energy.csv",
        data_source="itgreenquist/moose@fa4420cebe6b639251a3934ef991e45b5d5b68cd:benchmark_uploads/prob_1/b_energy.csv",
        final_time=983022.5452,
        samples={
            100.0: ((98.76437378, 131.3478953), (114.982666, 126.2329108)),
            1000.0: ((978.4443061, 75.34817162), (1020.056949, 74.61214685)),
            10000.0: ((9872.104699, 40.16234613), (10047.82658, 40.02513274)),
        }),
    "memphis_1b": _upload(
        "1b", "MEMPHIS", cores=16, wall_time=13343.0, sim_time=100000.0,
        meta=_PFHUB + "memphis_1b/meta.yaml",
        data_url="https://raw.githubusercontent.com/memphis-snl/memphis/master/benchmark/BM_001/1b_free-energy_explicit-euler.csv",
        data_source="memphis-snl/memphis@e168825d7e01db8a0ff136281911ef1cf0b2612e:benchmark/BM_001/1b_free-energy_explicit-euler.csv",
        final_time=100000.0,
        samples={
            100.0: ((100.0, 128.069111035), (100.0, 128.069111035)),
            1000.0: ((1000.0, 72.7676712834), (1000.0, 72.7676712834)),
            10000.0: ((10000.0, 38.6321740256), (10000.0, 38.6321740256)),
        }),
    "mmsp_1b_raspi": _upload(
        "1b", "MMSP", cores=18, wall_time=293029.66, sim_time=4166.67,
        meta=_PFHUB + "mmsp_1b_raspi/meta.yaml",
        data_url="https://gist.githubusercontent.com/tkphd/93af8ee482b5a66b04ff7284e61ef716/raw/c4b4e8c606a8fe209d7a0ea42e4267f3c53056e2/mmsp_1b_raspi_results.csv",
        note="series only in a GitHub gist, not stored here"),
    "mmsp_1b_travis": _upload(
        "1b", "MMSP", cores=2, wall_time=1142.51, sim_time=192.77,
        meta=_PFHUB + "mmsp_1b_travis/meta.yaml",
        data_source=_PFHUB + "mmsp_1b_travis/meta.yaml (free_energy values inline)",
        note="run_time.sim_time (192.77) equals the last inline energy, not a time; the inline series ends at t = 76.17",
        final_time=76.1719),
    "mmsp_1b_wrksttn": _upload(
        "1b", "MMSP", cores=12, wall_time=170618.87, sim_time=53333.3,
        meta=_PFHUB + "mmsp_1b_wrksttn/meta.yaml",
        data_url="https://gist.githubusercontent.com/tkphd/8659310fb61efba6c97df42e12382924/raw/98fcbed6c526092ec561dc11904c3754ccbfd880/mmsp_1b_wrksttn.csv",
        note="series only in a GitHub gist, not stored here"),
    "moose_1b_guan": _upload(
        "1b", "MOOSE", cores=8, wall_time=7920.0, sim_time=1000000.0,
        meta=_PFHUB + "moose_1b_guan/meta.yaml",
        data_url="https://raw.githubusercontent.com/xiaoyuguan/Spinodal/main/peacock_run_exe_tmp_ch_sqrnpbc_Guan_out.csv",
        data_source="xiaoyuguan/Spinodal@8299991eef68e98b816cf9832aec47fdc00414f4:peacock_run_exe_tmp_ch_sqrnpbc_Guan_out.csv",
        final_time=1000000.0,
        samples={
            100.0: ((99.668132321, 131.70187923619), (102.2618747811, 130.8389498565)),
            1000.0: ((993.36506083485, 74.507016557927), (1005.8834190672, 74.27026310351)),
            10000.0: ((9988.5458119122, 42.84626701496), (10052.950524677, 42.827352470786)),
            1000000.0: ((1000000.0, 12.093707831333), (1000000.0, 12.093707831333)),
        }),
    "moose_1b_ia": _upload(
        "1b", "MOOSE", cores=6, wall_time=3720.0, sim_time=317187.47772665,
        meta=_PFHUB + "moose_1b_ia/meta.yaml",
        data_url="https://gist.githubusercontent.com/wd15/41e21ea1090057c42a59380d90367763/raw/6cdc4a241f133355a2f0f0691fc96206ef3fa29a/hackathon_p1_square_PBC_IA.csv",
        note="series only in a GitHub gist, not stored here; the linked file is named hackathon_p1_square_PBC_IA.csv (PBC: periodic?) although the meta says 1b"),
    "moose_1b_jah": _upload(
        "1b", "MOOSE", cores=8, wall_time=6137.981, sim_time=1000000.0,
        meta=_PFHUB + "moose_1b_jah/meta.yaml",
        data_url="https://raw.githubusercontent.com/jah5759/benchmark_results/benchmark_results/1_spinodal_decomp/1b_square_no_flux/1b_square_no_flux_out.csv",
        note="series in jah5759/benchmark_results, of which no snapshot is stored here"),
    "moose_1b_mpf": _upload(
        "1b", "MOOSE", cores=4, wall_time=3053.107, sim_time=197385.0,
        meta=_PFHUB + "moose_1b_mpf/meta.yaml",
        data_url="https://raw.githubusercontent.com/mfrichtl/PFHub_benchmarks/main/problems/pfhub_benchmark_1.b1_csv.csv",
        data_source="mfrichtl/PFHub_benchmarks@7d2181e6b121462798e881da1fc76bb9e5bb2f97:problems/pfhub_benchmark_1.b1_csv.csv",
        note="meta sim_time 197385; the stored series ends at t = 196139",
        final_time=196139.43413603,
        samples={
            100.0: ((96.383959779169, 132.1079662536), (100.30408891763, 130.63981918201)),
            1000.0: ((986.24670607894, 74.658557587791), (1001.4991508465, 74.381614522937)),
            10000.0: ((9968.8026860468, 40.035695971988), (10009.423350202, 40.003740876451)),
        }),
    "moose_1b_sta": _upload(
        "1b", "MOOSE", cores=6, wall_time=3720.0, sim_time=1013318.2801021,
        meta=_PFHUB + "moose_1b_sta/meta.yaml",
        data_url="https://gist.githubusercontent.com/wd15/41e21ea1090057c42a59380d90367763/raw/49d3f4ebc29a373687b3e7f4ec0b8219dd098cb7/hackathon_p1_square_NF_STA.csv",
        note="series only in a GitHub gist, not stored here"),
    "moose_fh_1b": _upload(
        "1b", "MOOSE", cores=8, wall_time=1206.0, sim_time=1000000.0,
        meta=_PFHUB + "moose_fh_1b/meta.yaml",
        data_url="https://gist.githubusercontent.com/FHilty/999a83b9bae0f96b446b00512b9ae5b2/raw/83228b9d49f73b7d4136d440a3c5a4d54de60d5f/MOOSE_FH_1b.csv",
        note="series only in a GitHub gist, not stored here"),
    "moose_psu_1b_IA": _upload(
        "1b", "MOOSE", cores=40, wall_time=1787.0, sim_time=146098.0,
        meta=_PFHUB + "moose_psu_1b_IA/meta.yaml",
        data_url="https://gist.githubusercontent.com/simopier/739e1e4cb6e3682badee62dbb242fd98/raw/ec506181dfd410da88ca3760fd800fe930e48338/moose_psu_1b_IA.csv",
        note="series only in a GitHub gist, not stored here"),
    "moose_psu_1b_STA": _upload(
        "1b", "MOOSE", cores=80, wall_time=2471.0, sim_time=2924.0,
        meta=_PFHUB + "moose_psu_1b_STA/meta.yaml",
        data_url="https://gist.githubusercontent.com/simopier/739e1e4cb6e3682badee62dbb242fd98/raw/ec506181dfd410da88ca3760fd800fe930e48338/moose_psu_1b_STA.csv",
        note="series only in a GitHub gist, not stored here"),
    "prismspf_1b": _upload(
        "1b", "PRISMS-PF", cores=2, wall_time=882.0, sim_time=10000.0,
        meta=_PFHUB + "prismspf_1b/meta.yaml",
        data_source=_PFHUB + "prismspf_1b/meta.yaml (free_energy values inline)",
        note="run_time lists wall time per sim time: 11 s at t=100, 92 s at 1000, 882 s at 1e4; meta links the CHiMaD_benchmark1a application",
        final_time=10000.0,
        samples={
            100.0: ((100.0, 116.9931797), (100.0, 116.9931797)),
            1000.0: ((1000.0, 69.7133687), (1000.0, 69.7133687)),
            10000.0: ((10000.0, 27.72619387), (10000.0, 27.72619387)),
        }),
    "Spinodal_b": _upload(
        "1b", "FEniCS", cores=1, wall_time=10800.0, sim_time=10800.0,
        meta=_PFHUB + "Spinodal_b/meta.yaml",
        data_url="https://gist.githubusercontent.com/wd15/49a74e538e4b6e36dc101685e3d62694/raw/e8a0f59f9b1a96531d9c3b0b7c6f8869e1197a07/Time_Total_Energy_Spinodal_a.csv",
        note="series only in a GitHub gist, not stored here; wall_time = sim_time = 10800 in the meta; the linked file is named Time_Total_Energy_Spinodal_a.csv"),
}


def uploads(benchmark: str) -> dict[str, dict[str, Any]]:
    """The uploads of one benchmark (``"1a"`` or ``"1b"``), by name."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; allowed: {sorted(BENCHMARKS)}")
    return {k: u for k, u in UPLOADS.items() if u["benchmark"] == benchmark}


def free_energy(name: str, t: float) -> float:
    """F(t) of an upload: linear interpolation between its two stored rows around t.

    Raises:
        KeyError: if the upload is unknown or has no stored sample at t (series not
            available here, or t beyond its end).
    """
    samples = UPLOADS[name]["samples"]
    if float(t) not in samples:
        raise KeyError(f"upload {name!r} has no F sample at t = {t:g}; sampled at "
                       f"{sorted(samples)}")
    (t0, f0), (t1, f1) = samples[float(t)]
    return f0 if t1 == t0 else f0 + (f1 - f0) * (t - t0) / (t1 - t0)


def spread(benchmark: str, t: float, exclude_codes: tuple[str, ...] = ()
           ) -> tuple[float, float]:
    """(min, max) of F(t) over the uploads of ``benchmark`` whose stored series reach t.

    Args:
        benchmark: ``"1a"`` or ``"1b"``.
        t: one of :data:`TIMES`.
        exclude_codes: code names (e.g. ``("PRISMS-PF",)``) left out.

    Returns:
        ``(nan, nan)`` if no stored series reaches t.
    """
    if float(t) not in TIMES:
        raise ValueError(f"t must be one of {TIMES}, got {t}")
    values = [free_energy(k, t) for k, u in uploads(benchmark).items()
              if float(t) in u["samples"] and u["code"] not in exclude_codes]
    return (min(values), max(values)) if values else (math.nan, math.nan)


def table(benchmark: str) -> list[str]:
    """Lines of a plain-text table of one benchmark's uploads (for benchmark scripts).

    ``t_end`` is the end of the stored series, else the meta's ``sim_time``.
    """
    head = f"{'upload':<20} {'code':<14} {'cores':>5} {'wall s':>9} {'t_end':>9} " + " ".join(
        f"{'F(' + format(t, 'g') + ')':>9}" for t in TIMES)
    lines = [head]
    for k, u in sorted(uploads(benchmark).items(), key=lambda kv: kv[1]["wall_time"]):
        fs = " ".join(f"{free_energy(k, t):9.3f}" if t in u["samples"] else f"{'-':>9}"
                      for t in TIMES)
        lines.append(f"{k:<20} {u['code']:<14} {u['cores']:5d} {u['wall_time']:9.0f} "
                     f"{u['final_time'] or u['sim_time']:9.3g} {fs}")
    return lines
