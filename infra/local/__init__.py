"""The embedded local stack behind `make run`: moto, the API, the scheduler and the drop folder."""
