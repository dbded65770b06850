"""Where trainings and backtests run: worker processes behind one small `Executor` interface.

executor.py      the interface, and how worker failures read as service errors
local.py         its implementation: a pool of local worker processes
worker.py        what runs inside a worker (imports the forecasting core, not the server)
hooks.py         what a worker is handed to report progress and notice a cancel
process_guard.py worker processes end with their parent
"""
