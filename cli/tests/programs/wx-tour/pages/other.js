Page({
  data: {},
  onLoad(q) { this.setData({ from: q.from, depth: getCurrentPages().length }); wx.setNavigationBarTitle({ title: 'Other' }); },
  home() { wx.reLaunch({ url: '/pages/index' }); },
  back() { wx.navigateBack(); },
});
