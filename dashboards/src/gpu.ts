/**
 * GPU: dcgm-exporter metrics per GPU and worker (utilisation, framebuffer memory, power,
 * tensor-pipe and DRAM activity). The simulated worker exports the same names and labels
 * (gpu, UUID, device, modelName, Hostname); `worker` comes from the gateway's service discovery.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { Board, gaugePanel, labelValuesVariable, statPanel, timeseriesPanel } from './common.ts';

export const UID = 'floodgate-gpu';

const G = 'worker=~"$worker"';
const LEGEND = '{{worker}} GPU {{gpu}}';

export function gpu(): dashboard.Dashboard {
  const board = new Board({
    uid: UID,
    title: 'Floodgate / GPU',
    description: 'GPU utilisation, memory, power and tensor / DRAM activity per GPU and worker, from dcgm-exporter metric names (exported by the simulated workers too).',
    variables: [
      labelValuesVariable('worker', 'Worker', 'DCGM_FI_DEV_GPU_UTIL', 'worker', 'Worker names (label set by the gateway\'s Prometheus service discovery)'),
    ],
  });

  board.row('Summary')
    .panel(statPanel({
      title: 'GPUs',
      description: 'Number of GPUs reporting DCGM metrics for the selected workers.',
      unit: 'short',
      graph: false,
      queries: [{ expr: `count(DCGM_FI_DEV_GPU_UTIL{${G}})`, legend: 'GPUs', instant: true }],
    }))
    .panel(statPanel({
      title: 'Mean GPU utilisation',
      description: 'GPU utilisation averaged over the selected GPUs (DCGM_FI_DEV_GPU_UTIL, percent of time a kernel was running).',
      unit: 'percent',
      min: 0,
      max: 100,
      queries: [{ expr: `avg(DCGM_FI_DEV_GPU_UTIL{${G}})`, legend: 'utilisation' }],
    }))
    .panel(statPanel({
      title: 'Total power',
      description: 'Power drawn by the selected GPUs together (DCGM_FI_DEV_POWER_USAGE).',
      unit: 'watt',
      queries: [{ expr: `sum(DCGM_FI_DEV_POWER_USAGE{${G}})`, legend: 'power' }],
    }))
    .panel(statPanel({
      title: 'Memory used',
      description: 'Framebuffer memory used over total, summed over the selected GPUs (DCGM_FI_DEV_FB_USED / (FB_USED + FB_FREE)).',
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [{ value: null, color: 'green' }, { value: 0.9, color: 'orange' }, { value: 0.97, color: 'red' }],
      queries: [{ expr: `sum(DCGM_FI_DEV_FB_USED{${G}}) / (sum(DCGM_FI_DEV_FB_USED{${G}}) + sum(DCGM_FI_DEV_FB_FREE{${G}}))`, legend: 'used' }],
    }));

  board.row('Per GPU')
    .panel(timeseriesPanel({
      title: 'GPU utilisation',
      description: 'Percent of time one or more kernels were running, per GPU and worker (DCGM_FI_DEV_GPU_UTIL).',
      unit: 'percent',
      min: 0,
      max: 100,
      queries: [{ expr: `DCGM_FI_DEV_GPU_UTIL{${G}}`, legend: LEGEND }],
    }))
    .panel(gaugePanel({
      title: 'GPU utilisation now',
      description: 'Current utilisation of each GPU (DCGM_FI_DEV_GPU_UTIL).',
      unit: 'percent',
      min: 0,
      max: 100,
      w: 12,
      h: 8,
      thresholds: [{ value: null, color: 'blue' }, { value: 50, color: 'green' }, { value: 95, color: 'orange' }],
      queries: [{ expr: `DCGM_FI_DEV_GPU_UTIL{${G}}`, legend: LEGEND, instant: true }],
    }))
    .panel(timeseriesPanel({
      title: 'Framebuffer memory used',
      description: 'GPU memory used per GPU and worker, in MiB (DCGM_FI_DEV_FB_USED); vLLM reserves most of it for the KV cache at start.',
      unit: 'mbytes',
      min: 0,
      queries: [{ expr: `DCGM_FI_DEV_FB_USED{${G}}`, legend: LEGEND }],
    }))
    .panel(timeseriesPanel({
      title: 'Framebuffer memory used fraction',
      description: 'Share of each GPU\'s memory in use: DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE).',
      unit: 'percentunit',
      min: 0,
      max: 1,
      queries: [{ expr: `DCGM_FI_DEV_FB_USED{${G}} / (DCGM_FI_DEV_FB_USED{${G}} + DCGM_FI_DEV_FB_FREE{${G}})`, legend: LEGEND }],
    }))
    .panel(timeseriesPanel({
      title: 'Power',
      description: 'Power draw per GPU and worker, in watts (DCGM_FI_DEV_POWER_USAGE).',
      unit: 'watt',
      min: 0,
      w: 8,
      queries: [{ expr: `DCGM_FI_DEV_POWER_USAGE{${G}}`, legend: LEGEND }],
    }))
    .panel(timeseriesPanel({
      title: 'Tensor-pipe activity',
      description: 'Fraction of cycles the tensor (HMMA) pipe is active, per GPU and worker (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE): high during prefill and large decode batches.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      w: 8,
      queries: [{ expr: `DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{${G}}`, legend: LEGEND }],
    }))
    .panel(timeseriesPanel({
      title: 'DRAM activity',
      description: 'Fraction of cycles the device memory interface is sending or receiving data, per GPU and worker (DCGM_FI_PROF_DRAM_ACTIVE): decode is usually memory-bandwidth bound.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      w: 8,
      queries: [{ expr: `DCGM_FI_PROF_DRAM_ACTIVE{${G}}`, legend: LEGEND }],
    }));

  return board.build();
}
