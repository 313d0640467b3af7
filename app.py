"""The Chalice app: HTTP routes only, registered from the blueprints in chalicelib/api."""

from chalice.app import Chalice

from chalicelib.api.blueprints import ROUTERS

app = Chalice(app_name="abo")
app.experimental_feature_flags.update({"BLUEPRINTS"})
# Invoice PDFs: API Gateway passes binary bodies only for listed media types (clients send Accept).
app.api.binary_types.append("application/pdf")
for router in ROUTERS:
    app.register_blueprint(router.blueprint)
