"""Dunning: plans of reminders and notices after a missed due date, the legal limits they must respect, and
the pure schedule that says which step is due."""
