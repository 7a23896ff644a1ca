Page({
  data: { count: 0, items: [{ id: 1, name: 'Tea' }, { id: 2, name: 'Pillow' }] },
  onLoad() { this.setData({ visits: getApp().globalData.visits }); },
  increment() { this.setData({ count: this.data.count + 1 }); },
  open(e) { wx.navigateTo({ url: '/pages/detail?id=' + e.currentTarget.dataset.id }); },
});
