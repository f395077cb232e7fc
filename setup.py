"""Packaging for mathphys_nb: every setting and dependency comes from settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser
from pathlib import Path

import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read(Path(__file__).parent / 'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']


# The CUDA/C++ sources stay in `csrc/` in a checkout (so `nvcc -ptx csrc/cordic_decode.cu` works there) and ship in
# the wheel as `<lib>/csrc/`; `mathphys_nb.codec.kernels.csrc_dir()` finds either.
CSRC_PACKAGE = cfg['lib_path'] + '.csrc'
CSRC_FILES = ['*.cu', '*.cuh', '*.cpp']


def _list(key):
    return cfg.get(key, '').split()


setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=Path('README.md').read_text(encoding='utf-8') if Path('README.md').exists() else '',
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    license='Apache-2.0',
    url=cfg['git_url'],
    keywords=cfg['keywords'],
    python_requires='>=' + cfg['min_python'],
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']) + [CSRC_PACKAGE],
    package_dir={CSRC_PACKAGE: 'csrc'},
    package_data={CSRC_PACKAGE: CSRC_FILES},
    include_package_data=True,
    install_requires=_list('requirements'),
    extras_require={'dev': _list('dev_requirements'), 'gpu': _list('gpu_requirements'), 'bench': _list('bench_requirements'),
                    'onnx': _list('onnx_requirements')},
    entry_points={
        'console_scripts': _list('console_scripts'),
        'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
    zip_safe=False,
)
