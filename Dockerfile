# seqviz's app, for a group's server (docs/deploy.md). Python 3.11: TensorFlow 2.15 (pinned: tf2crf) has no wheels
# for newer Pythons. The same image runs a pool worker: python -m seqviz worker --queue redis://...
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY requirements.txt requirements.lock ./
RUN pip install --no-cache-dir -r requirements.txt -c requirements.lock
COPY . .
# the store lives in a volume (shared by the server and the workers); HDF5_PLUGIN_PATH: see docs/deploy.md
ENV SEQVIZ_MODELS=/data/models HDF5_PLUGIN_PATH=disable PYTHONUNBUFFERED=1
EXPOSE 8501
# the shipped models are copied into the volume when missing (never over a model trained there)
CMD ["sh", "-c", "mkdir -p \"$SEQVIZ_MODELS\" && cp -rn models/. \"$SEQVIZ_MODELS\"/ && exec streamlit run app.py --server.port 8501 --server.address 0.0.0.0"]
