Page({
  onLoad(query) { this.setData({ id: query.id }); wx.setNavigationBarTitle({ title: 'Item ' + query.id }); },
  back() { wx.navigateBack(); },
});
