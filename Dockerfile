# The tagging service (serve.py) on a CPU. Models are run dirs mounted read-only:
#
#   docker build -t biobert-serve .
#   docker run -p 8000:8000 -v $PWD/runs:/runs:ro biobert-serve \
#     --models=disease=/runs/out_ncbi --vocab_file=/runs/vocab.txt
#
# On an NVIDIA GPU (CUDA comes through pip; the host needs the NVIDIA container toolkit):
#
#   docker build -t biobert-serve-gpu --build-arg TENSORFLOW="tensorflow[and-cuda]==2.15.1" .
#   docker run --gpus all -p 8000:8000 -v $PWD/runs:/runs:ro biobert-serve-gpu --models=...
FROM python:3.11-slim

ARG TENSORFLOW="tensorflow-cpu==2.15.1"
WORKDIR /app
COPY requirements.txt .
RUN sed -i "s/^tensorflow-cpu==.*/${TENSORFLOW}/" requirements.txt \
    && pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home --uid 1000 serve
USER serve
ENV TF_CPP_MIN_LOG_LEVEL=2
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
# Listens on every interface of the container: publish the port deliberately (-p).
ENTRYPOINT ["python", "serve.py", "--host=0.0.0.0", "--port=8000"]
