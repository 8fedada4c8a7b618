"""One screen per mode: practice (default), ask, models, notes; plus help and stats modals."""
